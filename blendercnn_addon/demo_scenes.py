"""The scenes Set Up Scene builds, each with the parameters its datasets vary. Blender-free.

- ``ball_room``: the seed's glowing ball in a dark corner room; the ball's colour and x, y (the
  default five, vector.FIELDS).
- ``ball_plus``: the same room; also the ball's height (z) and size (its x scale, which drivers
  copy to y and z, so the ball stays round).
- ``turntable``: an L-shaped block on the floor, turned about z, lit by a key light whose colour
  varies (the ball is hidden).
- ``orbit``: the camera circles the glowing ball and the block (its pivot's angle about z) at a
  varying height, always aimed at the ball.

blender/scene_setup.py builds them (the names below are the objects and lights it makes);
``parameters`` is each scene's list as ``--param`` texts (parameters.py), None for the default five.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError
from .parameters import layout_from_params
from .vector import DEFAULT_LAYOUT, VectorLayout

BALL = "Ball"
BLOCK = "BlenderCNN Block"
KEY_LIGHT = "BlenderCNN Key"
ORBIT_PIVOT = "BlenderCNN Orbit"
CAMERA = "BlenderCNN Camera"
TURN_RADIANS = 3.14159  # the block turns through ±180°


@dataclass(frozen=True)
class DemoScene:
    """name: the id (``generate --demo-scene``, the panel's menu); label, description: what the panel
    shows; parameters: its --param texts (None: the default five)."""

    name: str
    label: str
    description: str
    parameters: tuple[str, ...] | None = None

    def layout(self) -> VectorLayout:
        return DEFAULT_LAYOUT if self.parameters is None else layout_from_params(self.parameters)


DEMO_SCENES = {scene.name: scene for scene in (
    DemoScene("ball_room", "Ball Room", "The seed's glowing ball in a dark corner room: its colour and x, y"),
    DemoScene("ball_plus", "Ball Room + Height and Size",
              "The ball room; also the ball's height (z) and size",
              ("default", f'z:objects["{BALL}"].location[2]=0.3:0.8', f'size:objects["{BALL}"].scale[0]=0.6:1.4')),
    DemoScene("turntable", "Turntable", "A block turned about z, lit by a key light of varying colour",
              (f'turn:objects["{BLOCK}"].rotation_euler[2]={-TURN_RADIANS}:{TURN_RADIANS}',
               f'key:lights["{KEY_LIGHT}"].color=colour')),
    DemoScene("orbit", "Orbit", "The camera circles the ball and the block at a varying height",
              (f'angle:objects["{ORBIT_PIVOT}"].rotation_euler[2]=-0.7:0.7',
               f'height:objects["{CAMERA}"].location[2]=0.6:2.4')),
)}
DEFAULT_DEMO = "ball_room"


def demo_scene(name: str) -> DemoScene:
    """The scene called ``name``; UserError naming the choices for another."""
    if name not in DEMO_SCENES:
        raise UserError(f"unknown scene {name!r}; choose one of {', '.join(DEMO_SCENES)}")
    return DEMO_SCENES[name]
