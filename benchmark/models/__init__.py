"""The VAEs, latent surgery on them, and the training objective."""
