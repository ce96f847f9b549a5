-- Shared by every Outrigger kind: health from status.observedGeneration and the conditions the
-- controller writes (controller/conditions.ts: Ready and Synced as Crossplane does, Reconciling
-- and Stalled as kstatus does), checked in this order:
--   Progressing  the controller has not observed the current generation yet
--   Degraded     Stalled is True (only the user can fix it), or Synced is False (the last
--                reconcile failed; it is retried, but something is wrong now)
--   Suspended    the kind says so (a Workspace or Lab stopped on purpose)
--   Progressing  Reconciling is True, or Ready is missing, Unknown or from an older generation
--   Healthy      Ready is True
--   Degraded     Ready is False with nothing in progress
-- Conditions computed for an older generation are ignored.
-- Uses only what Argo CD's Lua sandbox offers (no io, no os).

local function find_condition(status, condition_type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == condition_type then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local message = condition.message
  if message == nil or message == "" then
    message = fallback
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason .. ": " .. message
  end
  return message
end

-- A condition computed from an older spec says nothing about the current one.
local function stale(condition, generation)
  return condition ~= nil and generation ~= nil and condition.observedGeneration ~= nil
    and condition.observedGeneration < generation
end

local function outrigger_health(object, kind)
  local hs = { status = "Progressing", message = "Waiting for the controller to report status" }
  local status = object.status
  local generation = nil
  if object.metadata ~= nil then
    generation = object.metadata.generation
  end
  if status == nil then
    return hs
  end
  if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
    hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
    return hs
  end

  local stalled = find_condition(status, "Stalled")
  if stalled ~= nil and stalled.status == "True" and not stale(stalled, generation) then
    hs.status = "Degraded"
    hs.message = describe(stalled, "Stalled")
    return hs
  end

  local synced = find_condition(status, "Synced")
  if synced ~= nil and synced.status == "False" and not stale(synced, generation) then
    hs.status = "Degraded"
    hs.message = describe(synced, "The last reconcile failed")
    return hs
  end

  if kind.suspended ~= nil then
    local why = kind.suspended(object)
    if why ~= nil then
      hs.status = "Suspended"
      hs.message = why
      return hs
    end
  end

  local ready = find_condition(status, "Ready")
  local reconciling = find_condition(status, "Reconciling")
  if reconciling ~= nil and reconciling.status == "True" and not stale(reconciling, generation) then
    hs.message = describe(reconciling, "Reconciling")
    return hs
  end
  if ready == nil or stale(ready, generation) then
    hs.message = "Waiting for the Ready condition"
    return hs
  end
  if ready.status == "True" then
    hs.status = "Healthy"
    local summary = nil
    if kind.summary ~= nil then
      summary = kind.summary(object)
    end
    hs.message = summary or describe(ready, "Ready")
    return hs
  end
  if ready.status == "False" then
    hs.status = "Degraded"
    hs.message = describe(ready, "Not ready")
    return hs
  end
  hs.message = describe(ready, "Ready is Unknown")
  return hs
end
