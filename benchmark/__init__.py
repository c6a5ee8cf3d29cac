"""ALD-VAE benchmark: adaptive latent sizing for VAEs against fixed-size searches."""

__version__ = "0.1.0"
