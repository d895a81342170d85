"""The layers, one small file per family."""
