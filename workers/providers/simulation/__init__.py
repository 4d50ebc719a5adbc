"""The seam of the upstream simulator: its provider-neutral engine (tasks, timelines, scripted fates,
faults, callbacks, result files) and the types a provider's simulated personality is declared with;
`workers.simulator` serves every declared personality over real HTTP."""
