"""Training systems: splits, the sparse fit of the SA_lin invariant, Lightning, run directories."""
