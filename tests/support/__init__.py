"""What tests and benchmarks share: the in-memory delivery port, factories, waiting,
local servers. `bench/` imports these too, so each helper exists once."""
