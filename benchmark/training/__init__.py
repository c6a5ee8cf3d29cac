"""One training, without MLflow or Optuna: the epoch loop (``loop``), the ALD-VAE
controller, model outputs, the test evaluation, records and checkpoints."""
