"""The user's parameters as text and records (parameters.py, vector.VectorLayout): no Blender, no TensorFlow."""

import json

import pytest

from blendercnn_addon.dataset_card import DatasetCard, DatasetIdentity
from blendercnn_addon.errors import UserError
from blendercnn_addon.parameters import default_name, layout_from_json, layout_from_params, split_path
from blendercnn_addon.randomization import VectorSpec, sample_vector
from blendercnn_addon.run_config import RunConfig
from blendercnn_addon.vector import COLOUR_CHANNEL, DEFAULT_LAYOUT, FIELDS, PROPERTY, VectorLayout

Z = 'objects["Ball"].location[2]=0.3:0.8'
GLOW = 'materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value'


def test_a_param_is_a_data_path_and_a_range_named_from_its_path():
    layout = layout_from_params([Z, "lights['Key'].energy=100:1000", f"{GLOW}=colour"])
    assert layout.names == ("ball_location_z", "key_energy", "glow_emission_color_r", "glow_emission_color_g",
                            "glow_emission_color_b")
    z, energy, red = layout.fields[:3]
    assert (z.kind, z.data_path, z.index, z.default_range, z.unit) == (
        PROPERTY, 'objects["Ball"].location', 2, (0.3, 0.8), "m")
    assert (energy.index, energy.full_path) == (-1, 'lights["Key"].energy')  # Blender reads double quotes only
    assert red.kind == COLOUR_CHANNEL and red.full_path == GLOW + "[0]" and not red.ranged
    assert split_path('bpy.data.objects["Ball"].scale[1]') == ('objects["Ball"].scale', 1)
    assert default_name('cameras["Cam"].lens', -1) == "cam_lens"
    assert layout.colours == (2,)  # the Preview's swatch: the three channels of one colour, in a row


def test_colours_are_three_channels_of_one_path_in_a_row():
    assert layout_from_params(["default", Z]).colours == (0,)
    assert layout_from_params([Z]).colours == ()
    two = layout_from_params([f"{GLOW}=colour", "default"])
    assert two.colours == (0, 3) and two.light_colours == (0, 3)  # an emission's colour, the target's emission
    lamp_and_surface = layout_from_params(["lights['Key'].color=colour", "default",
                                           'materials["M"].node_tree.nodes["Principled BSDF"].inputs["Base Color"]'
                                           '.default_value=colour'])
    assert lamp_and_surface.colours == (0, 3, 8) and lamp_and_surface.light_colours == (0, 3)  # not a surface's


def test_default_keeps_the_five_where_it_stands():
    layout = layout_from_params(["default", Z])
    assert layout.fields[:5] == FIELDS and layout.names[5] == "ball_location_z" and not layout.is_default
    assert layout_from_params(["default"]).is_default


@pytest.mark.parametrize("params, message", [
    (["nonsense"], "expected PATH=MIN:MAX"),
    (["1abc=0:1"], "is not a Blender data path"),
    (['objects["Ball"].location[2]=0.8:0.3'], "min 0.8 is greater than max 0.3"),
    (['objects["Ball"].location[2]=0.5:0.5'], "min and max are both 0.5"),
    (['objects["Ball"].location[2]=a:b'], "the range must be MIN:MAX"),
    (['objects["Ball"].location[2]=0:inf'], "must be finite"),
    ([Z, 'bpy.data.objects["Ball"].location[2]=0:1'], r'objects\["Ball"\].location\[2\] is given twice'),
    ([f"{GLOW}[0]=colour"], "a colour is the whole property"),
    (['scenes["A"].x=0:1', 'objects["A"].x=0:1'], "two parameters are both called 'a_x'"),
])
def test_bad_params_get_one_clear_line(params, message):
    with pytest.raises(UserError, match=message):
        layout_from_params(params)


def test_two_params_with_one_name_are_refused():
    with pytest.raises(UserError, match="two parameters are both called 'x'"):
        layout_from_json({"parameters": [{"default": True}, {"path": 'objects["A"].scale[0]', "min": 1, "max": 2,
                                                             "name": "x"}]}, "p.json")


def test_a_params_file_names_and_labels_its_parameters():
    layout = layout_from_json({"parameters": [
        {"path": 'objects["Ball"].location[2]', "min": 0.3, "max": 0.8, "name": "z", "label": "Height"},
        {"path": GLOW, "colour": True, "name": "glow"}]}, "p.json")
    assert layout.names == ("z", "glow_r", "glow_g", "glow_b") and layout.fields[0].label == "Height"
    for bad, message in (({"parameters": []}, "expected"), ([{"path": "x.y"}], 'needs numbers "min" and "max"'),
                         ([{"min": 0}], 'each parameter is an object with a "path"')):
        with pytest.raises(UserError, match=message):
            layout_from_json(bad, "p.json")


def test_the_default_vectors_are_unchanged_and_picked_parameters_draw_from_their_ranges():
    """The default stream is today's (values printed by the version before parameters)."""
    assert sample_vector(7, 1, VectorSpec()) == (1.0, 0.0, 0.2799835931790837, -0.9749483839734283, 0.8953042855436393)
    assert sample_vector(3, 5, VectorSpec({}, "vibrant", True)) == (
        1.0, 0.614866549574017, 0.0, 0.21627793379773497, -0.9944532886955122)
    spec = VectorSpec({}, "vibrant", False, layout_from_params(["default", Z, "lights['Key'].energy=100:1000"]))
    vectors = [sample_vector(0, i, spec) for i in range(200)]
    assert all(len(v) == 7 and 0.3 <= v[5] <= 0.8 and 100 <= v[6] <= 1000 for v in vectors)
    assert vectors[0][:5] == sample_vector(0, 0, VectorSpec())  # the five first, drawn as before
    assert VectorSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(UserError, match="needs the ball room's parameters"):
        VectorSpec({}, "vibrant", True, spec.layout).validate()


def test_the_card_and_the_run_config_record_the_layout_and_name_what_differs():
    layout = layout_from_params(["default", Z])
    identity = DatasetIdentity(seed=1, resolution=32, ranges={"x": (-1, 1), "y": (-1, 1), "ball_location_z": (0.3, 0.8)},
                               layout=layout)
    data = json.loads(json.dumps(identity.to_dict()))
    assert data["ball_location_z_range"] == [0.3, 0.8] and data["parameters"][5]["data_path"] == 'objects["Ball"].location'
    assert DatasetIdentity.from_dict(data) == identity
    assert "parameters" not in DatasetIdentity(seed=1).to_dict()  # the default: cards as before
    other = DatasetIdentity(seed=1, resolution=32, layout=layout_from_params(["default"]))
    assert identity.differences(other) == [
        'parameters (ball_location_z: objects["Ball"].location[2] 0.3..0.8 in the folder, absent asked for)']
    card = DatasetCard(identity=identity, count=3, vector_fields=layout.names)
    assert DatasetCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    config = RunConfig(resolution=32, vector_fields=layout.names, vector_min=(0, 0, 0, -1, -1, 0.3),
                       vector_max=(1, 1, 1, 1, 1, 0.8), dataset_identity=identity)
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.layout == layout and again.checked_input([1, 0, 0, 0, 0, 0.5]) == [1, 0, 0, 0, 0, 0.5]
    with pytest.raises(UserError, match=r"ball_location_z = 0.9 is outside the range"):
        again.checked_input([1, 0, 0, 0, 0, 0.9])
    with pytest.raises(UserError, match="a vector is six numbers r,g,b,x,y,ball_location_z; got 5"):
        again.checked_input([1, 0, 0, 0, 0])
    assert RunConfig(resolution=32).layout == DEFAULT_LAYOUT


def test_a_layout_round_trips_and_refuses_what_is_not_one():
    layout = layout_from_params([Z, f"{GLOW}=colour"])
    assert VectorLayout.from_list(json.loads(json.dumps(layout.to_list()))) == layout
    for bad in ([{"name": "a"}], [{"name": "a", "kind": "spin", "index": 0, "range": [0, 1]}], {"a": 1}):
        with pytest.raises(ValueError):
            VectorLayout.from_list(bad)
    assert layout.describe([0.5, 1, 0, 0.25]) == "colour (1.00, 0.00, 0.25), ball_location_z 0.50 m"
