"""Pure SOP rules and values (standard library only): states, workflow, findings, NIPs, working time."""
