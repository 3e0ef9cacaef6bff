"""Layers and maths shared by several families: masked linear layers, Gaussian latent maths, LoRA."""
