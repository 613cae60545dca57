"""Operators under ``bpy.ops.blendercnn.*``: thin Blender wrappers over the Blender-free core."""

from . import dataset_ops, scene_ops

CLASSES = scene_ops.CLASSES + dataset_ops.CLASSES
