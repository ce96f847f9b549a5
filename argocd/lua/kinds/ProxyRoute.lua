-- ProxyRoute: Healthy once nginx on its Host serves it (Ready True); a quarantined or conflicting
-- route reports Synced False or Stalled True and shows Degraded with nginx's message.
return outrigger_health(obj, {})
