namespace OrleansTickets.Api.Orders;

/// <summary>Puts an endpoint under <see cref="OrderPageLimit"/>.</summary>
public static class OrderPageLimitEndpoints
{
    /// <summary>
    /// Counts each request to these endpoints against its client and answers 429 past the allowance; an admitted
    /// request holds its place among the client's pages in flight until its handler returns.
    /// </summary>
    public static TBuilder LimitPerClient<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            using var lease = context.HttpContext.RequestServices.GetRequiredService<OrderPageLimit>().TryAdmit(context.HttpContext, out var refusal);
            return lease is null ? refusal : await next(context);
        });
}
