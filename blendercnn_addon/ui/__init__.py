"""Sidebar panels (classes ``BLENDERCNN_PT_*``)."""

from .panels import CLASSES
