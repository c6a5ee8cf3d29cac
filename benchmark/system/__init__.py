"""Process-level helpers that know nothing of VAEs, runs or studies: signals as a clean
stop (``interrupts``), periodic background threads, pid checks, the cache folder, the
torch device, passwords masked. Imports only :mod:`benchmark.errors`."""
