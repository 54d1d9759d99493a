"""Datasets: multi-document QA (generated here, or read from a user's files) and its prompt format."""

from focus_interp.data.multidoc import INSTRUCTION, multidoc_parts
from focus_interp.data.synthetic import synthetic_multidoc_qa

__all__ = ["INSTRUCTION", "multidoc_parts", "synthetic_multidoc_qa"]
