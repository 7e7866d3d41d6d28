"""Datasets for the GenLoc protocols: few-shot / family subsets of AP-10K."""
from .ap10k_subset import AP10KSubsetDataset

__all__ = ['AP10KSubsetDataset']
