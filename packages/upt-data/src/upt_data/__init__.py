"""Burgers data, zarr field stores and datasets for UPT."""
