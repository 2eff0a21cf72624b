// TEMPORARY placeholder: the override lands with the core.
