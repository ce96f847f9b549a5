-- ProxmoxCluster: Healthy once the controller reached its API with the token (Ready True).
return outrigger_health(obj, {})
