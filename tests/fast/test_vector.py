"""The vector (vector.py's table) and the vectors a dataset draws (randomization.py): pure functions,
checked in milliseconds."""

import os

import pytest

from blendercnn_addon import vector
from blendercnn_addon.errors import UserError
from conftest import ROOT

PACKAGE = os.path.join(ROOT, "blendercnn_addon")


# -- the vector ---------------------------------------------------------------------------------
def test_the_vector_layout_is_spelled_out_once():
    assert vector.VECTOR_FIELDS == ("r", "g", "b", "x", "y") and vector.VECTOR_SIZE == 5
    assert vector.COLOUR_FIELDS == ("r", "g", "b") and vector.POSITION_FIELDS == ("x", "y")
    made = vector.make_vector((1, 0.5, 0), (0.25, -0.75))
    assert made == (1.0, 0.5, 0.0, 0.25, -0.75)
    assert vector.colour_of(made) == (1.0, 0.5, 0.0) and vector.position_of(made) == (0.25, -0.75)
    assert vector.vector_bounds({"x": (-1, 1), "y": (-2, 0.5)}) == ([0.0, 0.0, 0.0, -1.0, -2.0],
                                                                 [1.0, 1.0, 1.0, 1.0, 0.5])
    assert [f.name for f in vector.RANGED_FIELDS] == ["x", "y"] and vector.field("x").unit == "m"
    assert vector.describe(made) == "colour (1.00, 0.50, 0.00), x 0.25 m, y -0.75 m"


def test_no_module_spells_out_the_vector_layout_again():
    """No bare 5, 3:5 or "rgbxy" for the vector outside vector.py (the grep of the closing note)."""
    pattern_hits = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py") or name == "vector.py":
                continue
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            for needle in ("3:5", "[:3]", '"rgbxy"', "shape=(5,)", "(None, 5)", "len(v) != 5", "(1, 5)"):
                if needle in text and not (needle == "[:3]" and _only_non_vector_uses(text)):
                    pattern_hits.append(f"{name}: {needle}")
    assert pattern_hits == []


def _only_non_vector_uses(text):
    """``[:3]`` also takes RGB of an RGBA pixel or a version tuple: allowed where that is what it does."""
    return all(any(k in line for k in ("default_value", "version_info", "rgba", "saved[:3]", "shape[:3]",
                                       "problems[:3]"))
               for line in text.splitlines() if "[:3]" in line)


@pytest.mark.parametrize("values, message", [
    (["1", "0", "0.5", "0.2"], "five numbers r,g,b,x,y; got 4"),
    (["1", "0", "nan", "0", "0"], "NaN or infinity"),
    (["a", "b", "c", "d", "e"], "five numbers"),
    ([1.5, 0, 0, 0, 0], "outside [0, 1]"),
])
def test_a_bad_vector_gets_one_clear_message(values, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        vector.check_vector(values, [0, 0, 0, -1, -1], [1, 1, 1, 1, 1])


def test_positions_outside_the_trained_range_and_json_that_is_not_numbers_are_refused():
    with pytest.raises(UserError, match="y = 2.0 is outside the range the model was trained on"):
        vector.check_vector([1, 0, 0, 0, 2], [0, 0, 0, -1, -1], [1, 1, 1, 1, 1])
    for bad in ("1,0,0,0,0", [True, False, False, 0, 0], None, {"r": 1}):
        with pytest.raises(UserError, match="JSON list of five numbers"):
            vector.vector_from_json(bad)
    assert vector.vector_from_json([1, 0, 0.5, 0, 0]) == [1.0, 0.0, 0.5, 0.0, 0.0]


def test_vectors_are_a_pure_function_of_seed_and_index():
    from blendercnn_addon.randomization import VectorSpec, noise_seed, sample_vector

    spec = VectorSpec({"x": (-1.0, 1.0), "y": (0.0, 0.5)}, "uniform")
    first = [sample_vector(3, i, spec) for i in range(50)]
    assert first == [sample_vector(3, i, spec) for i in reversed(range(50))][::-1]
    assert first != [sample_vector(4, i, spec) for i in range(50)]
    assert all(-1 <= v[3] <= 1 and 0 <= v[4] <= 0.5 for v in first)
    assert noise_seed(3, 0) == noise_seed(3, 0) != noise_seed(3, 1)
    # Stable across Python runs and platforms: random.Random with a string seed hashes it with SHA-512.
    assert sample_vector(0, 0, VectorSpec())[0:3] == (1.0, 0.4951890774463815, 0.0)


def test_vibrant_colours_cover_all_six_hue_sectors():
    from blendercnn_addon.randomization import VectorSpec, sample_vector

    sectors = set()
    for i in range(200):
        r, g, b, _, _ = sample_vector(0, i, VectorSpec())
        assert sorted((r, g, b))[0] == 0.0 and sorted((r, g, b))[2] == 1.0
        sectors.add(((r, g, b).index(1.0), (r, g, b).index(0.0)))
    assert len(sectors) == 6


def test_evaluation_colour_schemes_and_the_held_out_quadrant():
    from blendercnn_addon.randomization import VectorSpec, sample_vector

    def colours(scheme, n=400):
        return [sample_vector(5, i, VectorSpec(colour_scheme=scheme))[:3] for i in range(n)]

    assert all(min(c) >= 0.55 for c in colours("pastel"))
    assert all(min(c) >= 0.85 for c in colours("near_white"))
    assert all(max(c) <= 0.3 and max(c) > 0 for c in colours("dim"))
    uniform = colours("uniform")
    assert any(0.1 < min(c) and max(c) < 0.9 for c in uniform), "uniform colours are not all vibrant"
    unseen = colours("unseen", 8)
    assert min(unseen[1]) >= 0.55 and max(unseen[2]) <= 0.3 and min(unseen[3]) >= 0.85  # the four in turn
    held_out = [sample_vector(5, i, VectorSpec(exclude_quadrant=True)) for i in range(2000)]
    assert not [v for v in held_out if v[3] > 0 and v[4] > 0]
    assert sum(1 for v in held_out if v[3] > 0) > 500 and sum(1 for v in held_out if v[4] > 0) > 500
    assert held_out == [sample_vector(5, i, VectorSpec(exclude_quadrant=True)) for i in range(2000)]
    with pytest.raises(Exception, match="inside the excluded quadrant"):
        VectorSpec({"x": (0.0, 1.0), "y": (0.2, 1.0)}, exclude_quadrant=True).validate()


def test_the_ball_rooms_layout_with_the_balls_own_height_and_size_is_still_the_ball_rooms():
    """radiance takes the five followed by the target's z and x scale (each once, any order); any other
    list, another object's, or a repeated one is not the ball room's (field is chosen for it)."""
    from blendercnn_addon.architectures import choose_architecture
    from blendercnn_addon.demo_scenes import demo_scene
    from blendercnn_addon.parameters import layout_from_params
    from blendercnn_addon.vector import DEFAULT_LAYOUT, BallExtras

    z, size = 'objects["Ball"].location[2]=0.3:0.8', 'objects["Ball"].scale[0]=0.6:1.4'
    assert DEFAULT_LAYOUT.ball_extras("Ball") == BallExtras() and not BallExtras().any
    assert demo_scene("ball_plus").layout().ball_extras("Ball") == BallExtras(height=5, size=6)
    assert layout_from_params(("default", size, z)).ball_extras("Ball") == BallExtras(height=6, size=5)
    assert layout_from_params(("default", z)).ball_extras("Ball") == BallExtras(height=5)
    for params, target in ((("default", z), "Other"),  # the dataset moves another object
                           ((z, "default"), "Ball"),  # the five are not first
                           (("default", 'objects["Ball"].scale[1]=0.6:1.4'), "Ball"),
                           (("default", 'objects["Ball"].rotation_euler[2]=0:1'), "Ball")):
        layout = layout_from_params(params)
        assert layout.ball_extras(target) is None and not layout.models_ball_room(target), params
    for scene in ("turntable", "orbit"):
        assert demo_scene(scene).layout().ball_extras("Ball") is None
    ball_plus = demo_scene("ball_plus").layout()
    assert choose_architecture("auto", True, ball_plus.models_ball_room("Ball")) == "radiance"
    assert choose_architecture("auto", True, demo_scene("orbit").layout().models_ball_room("Ball")) == "field"
