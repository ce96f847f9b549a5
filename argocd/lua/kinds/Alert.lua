-- Alert: Healthy means the rules are being evaluated; firing rules are news, not ill health, and
-- are named in the message.
return outrigger_health(obj, {
  summary = function(object)
    local status = object.status or {}
    local firing = {}
    for _, rule in ipairs(status.rules or {}) do
      if rule.state == "Firing" then
        table.insert(firing, rule.name)
      end
    end
    if #firing > 0 then
      return #firing .. " rule(s) firing: " .. table.concat(firing, ", ")
    end
    return nil
  end,
})
