"""Register / unregister everything Blender-facing, in dependency order."""

from __future__ import annotations

import bpy

from . import background, follow_scene, images, operators, preferences, properties, render_engine
from .ui import panels

CLI_COMMAND_ID = "blendercnn"
_cli_handle = None


def register(cli_command=None) -> None:
    """Register everything; ``cli_command(argv) -> exit code`` serves ``blender -c blendercnn ...``."""
    global _cli_handle
    properties.register()
    for cls in preferences.CLASSES + operators.CLASSES + panels.CLASSES:
        bpy.utils.register_class(cls)
    operators.parameter_ops.register_menu()  # Add to BlenderCNN Parameters, in every property's right-click menu
    background.register()
    follow_scene.register()  # depsgraph and frame-change handlers
    images.register()  # frames the add-on's images whole in the editors that show them
    render_engine.register()  # BlenderCNN in Render Properties ▸ Render Engine
    if cli_command is not None:  # ``blender -c blendercnn generate ...``
        _cli_handle = bpy.utils.register_cli_command(CLI_COMMAND_ID, cli_command)


def unregister() -> None:
    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    render_engine.unregister()
    images.unregister()
    follow_scene.unregister()
    background.unregister()  # stops every worker (training, preview, TensorBoard)
    operators.parameter_ops.unregister_menu()
    for cls in reversed(preferences.CLASSES + operators.CLASSES + panels.CLASSES):
        bpy.utils.unregister_class(cls)
    properties.unregister()
