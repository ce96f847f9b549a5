-- Host: Healthy once the controller reached it (Ready True).
return outrigger_health(obj, {})
