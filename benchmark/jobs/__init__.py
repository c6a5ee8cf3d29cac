"""The jobs that train as tracked runs: one training as one MLflow run (``runner``),
the one-training rivals (``rivals``), and the benchmark job over seeds and methods
(``experiment``)."""
