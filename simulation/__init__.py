"""Offline evaluation: synthetic users and markets drive the real feed, ingestion and beat pipeline
on a simulated clock, and ranking-quality metrics compare configs with baselines (docs/simulation.md).

Pure modules (no Django): `world` (users, markets, behaviour), `metrics`, `plot`.
Django side: `catalog` (loads the catalog), `strategies` (how a feed is chosen), `runner` (one arm),
`compare` (all arms in worker processes, tables and files), `worker` (one arm's process entry point).
"""
