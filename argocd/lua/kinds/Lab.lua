-- Lab: stopped on purpose or expired is Suspended; Healthy says how many machines are ready.
return outrigger_health(obj, {
  suspended = function(object)
    local status = object.status or {}
    if status.phase == "Expired" then
      return "Expired" .. (status.expiresAt and (" at " .. status.expiresAt) or "") .. "; its machines were removed or stopped"
    end
    if object.spec ~= nil and object.spec.state == "Stopped" and status.phase == "Stopped" then
      return "Stopped (spec.state is Stopped)"
    end
    return nil
  end,
  summary = function(object)
    if object.status ~= nil and object.status.readyMachines ~= nil then
      return object.status.readyMachines .. " machines ready"
    end
    return nil
  end,
})
