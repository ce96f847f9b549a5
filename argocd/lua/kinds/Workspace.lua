-- Workspace: stopped on purpose (spec.state Stopped, and the controller has stopped it) is
-- Suspended, not Degraded.
return outrigger_health(obj, {
  suspended = function(object)
    if object.spec ~= nil and object.spec.state == "Stopped" and object.status ~= nil and object.status.phase == "Stopped" then
      return "Stopped (spec.state is Stopped); the home is kept"
    end
    return nil
  end,
})
