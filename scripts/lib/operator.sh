# Operators' calls (creating events, adding capacity) need the operator key once one is configured
# (Api:Operators:Key; the silos these scripts start inherit Api__Operators__Key from the environment). Without it
# only loopback callers are operators, which these scripts are. Source this and pass "${operator_auth[@]}" to curl.
operator_auth=()
if [[ -n ${Api__Operators__Key:-} ]]; then
    operator_auth=(-H "Authorization: Bearer ${Api__Operators__Key}")
fi
