# Stubs for aiohttp_auth 0.1.1 (untyped): what the benchmarks use.
POLICY_KEY: str
