using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Inventory;
using OrleansTickets.Api.Http;
using OrleansTickets.Api.Orders;

namespace OrleansTickets.Api;

/// <summary>Wires the HTTP API into any host that can reach the grains: a co-hosted silo or an Orleans client.</summary>
public static class TicketingApiExtensions
{
    public static IServiceCollection AddTicketingApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            // Problems raised outside our handlers (unhandled exceptions, unknown routes) get stable types too.
            var problem = context.ProblemDetails;
            if (problem.Type is not null && problem.Type.StartsWith(Problems.Base, StringComparison.Ordinal)) return;
            problem.Type = problem.Status switch
            {
                StatusCodes.Status503ServiceUnavailable => Problems.Unavailable,
                StatusCodes.Status404NotFound => Problems.NotFound,
                StatusCodes.Status405MethodNotAllowed => Problems.MethodNotAllowed,
                >= 500 => Problems.Internal,
                _ => problem.Type,
            };
            if (problem.Status == StatusCodes.Status503ServiceUnavailable) context.HttpContext.Response.Headers.RetryAfter = "1";
        });
        services.AddSingleton<DispatcherDirectory>();
        services.AddOptions<PurchaseAdmissionOptions>().BindConfiguration(PurchaseAdmissionOptions.SectionName)
            .Validate(o => o.MaxInFlight >= 1 && o.MaxQueued >= 0,
                "Api:Admission:MaxInFlight must be at least 1 and Api:Admission:MaxQueued at least 0.")
            .ValidateOnStart();
        services.AddOptions<OperatorAccessOptions>().BindConfiguration(OperatorAccessOptions.SectionName)
            .Validate(o => o.Key is null || (o.Key.Length >= OperatorAccessOptions.MinKeyLength && o.Key.All(c => c is > ' ' and <= '~')),
                $"Api:Operators:Key must be at least {OperatorAccessOptions.MinKeyLength} printable ASCII characters without spaces, or unset.")
            .ValidateOnStart();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            limiter.AddPolicy<string, PurchaseAdmission>(PurchaseAdmission.PolicyName);
        });
        return services;
    }

    public static IEndpointRouteBuilder MapTicketingApi(this WebApplication app)
    {
        // Failures reaching the cluster (timeouts, a silo going away) are transient: 503, not 500.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = exception => exception is TimeoutException or OrleansException
                ? StatusCodes.Status503ServiceUnavailable
                : StatusCodes.Status500InternalServerError,
        });
        app.UseStatusCodePages();
        app.UseRateLimiter();
        app.MapEventsApi();
        app.MapOrdersApi();
        app.MapInventoryApi();
        return app;
    }
}
