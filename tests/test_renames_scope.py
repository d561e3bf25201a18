"""Which occurrences a rename follows: Python's scopes and the notebook's run order.
Cases modeled on what the calibration run (benchmarks/next_edit_calibration.py) found."""

from __future__ import annotations

import ast

from jupyter_assist.notebook import from_cells
from jupyter_assist.notebook import renames as R
from jupyter_assist.notebook.next_edit import rename_proposals
from jupyter_assist.notebook.proposals import UserEdit


def _cells(*sources: str) -> list:
    return from_cells([{"cell_type": "code", "source": s} for s in sources]).cells


def _where(cells: list, edit: UserEdit) -> list[tuple[int, int, str]]:
    return [(p.cell_index, p.start_line, p.new[0]) for p in rename_proposals(cells, [edit])]


# handson-ml3 02, cell 28: two functions of one cell with a `test_ratio` parameter.
TWO_FUNCTIONS = """def shuffle_and_split_data(data, test_ratio):
    shuffled_indices = np.random.permutation(len(data))
    test_set_size = int(len(data) * test_ratio)
    return data.iloc[shuffled_indices[test_set_size:]]

def is_id_in_test_set(identifier, test_ratio):
    return crc32(np.int64(identifier)) < test_ratio * 2**32
"""


def test_parameter_rename_stays_in_its_function() -> None:
    after = TWO_FUNCTIONS.replace("data, test_ratio)", "data, ratio)")
    cells = _cells(after, "x = test_ratio")
    assert _where(cells, UserEdit(0, TWO_FUNCTIONS, after)) == [(0, 2, "    test_set_size = int(len(data) * ratio)")]


def test_parameter_rename_skips_a_nested_function_with_its_own_parameter() -> None:
    before = "def f(n):\n    g = lambda n: n + 1\n    def h(n):\n        return n\n    return g(n) + h(n)"
    after = before.replace("def f(n)", "def f(k)")
    assert _where(_cells(after), UserEdit(0, before, after)) == [(0, 4, "    return g(k) + h(k)")]


# handson-ml3 01, cell 24: a variable renamed at a later assignment.
REASSIGNED = """X = lifesat[["GDP per capita (USD)"]].values
y = lifesat[["Life satisfaction"]].values
model = LinearRegression()
X = prepare(X)
model.fit(X, y)
print(model.predict(X))"""


def test_rename_at_a_later_assignment_leaves_the_uses_before_it() -> None:
    after = REASSIGNED.replace("X = prepare(X)", "X_new = prepare(X)")
    cells = _cells("print(X)", after, "X.shape")
    assert _where(cells, UserEdit(1, REASSIGNED, after)) == [
        (1, 4, "model.fit(X_new, y)"),
        (1, 5, "print(model.predict(X_new))"),
        (2, 0, "X_new.shape"),
    ]


def test_rename_of_a_binding_leaves_cells_above() -> None:
    before, after = "data = load()\nprint(data)", "frame = load()\nprint(data)"
    cells = _cells("data = 1\nprint(data)", after, "data.head()")
    assert _where(cells, UserEdit(1, before, after)) == [(1, 1, "print(frame)"), (2, 0, "frame.head()")]


def test_rename_of_a_global_leaves_functions_where_the_name_is_local() -> None:
    before, after = "data = load()\nshow(data)", "frame = load()\nshow(data)"
    other = "def show(data):\n    print(data)\n\ndef first():\n    return data[0]"
    cells = _cells(after, other)
    assert _where(cells, UserEdit(0, before, after)) == [(0, 1, "show(frame)"), (1, 4, "    return frame[0]")]


def test_rename_of_a_local_stays_in_its_function() -> None:
    before = "def f():\n    tmp = 1\n    return tmp\n\ntmp = 2\nprint(tmp)"
    after = before.replace("    tmp = 1", "    t = 1")
    assert _where(_cells(after), UserEdit(0, before, after)) == [(0, 2, "    return t")]


def test_unparsed_cell_parameter_rename_stays_in_the_indented_body() -> None:
    before = "def f(a):\n    return a\n\ndef g(a):\n    return a\nx = ("
    after = before.replace("def f(a)", "def f(b)")
    assert _where(_cells(after), UserEdit(0, before, after)) == [(0, 1, "    return b")]


def test_parameter_rename_follows_where_the_body_also_assigns_it() -> None:
    # handson-ml3 18, cell 72: `obs` is reassigned in the body, so the function has it as a local.
    before = "def step(env, obs):\n    p = model(obs)\n    obs, reward = env.step(p)\n    return obs"
    after = before.replace("env, obs)", "env, obs2)")
    assert _where(_cells(after), UserEdit(0, before, after)) == [
        (0, 1, "    p = model(obs2)"),
        (0, 2, "    obs2, reward = env.step(p)"),
        (0, 3, "    return obs2"),
    ]


# A long cell is parsed in pieces (the GIL is let go between them): the pieces must read as
# the whole. Column-0 lines inside a string or brackets, a decorator over its `def` and an
# `else:` of a top-level `if` are no place to cut.
_TRAPS = 'q = """\nx = 1\n"""\nd = {\n"a": 1,\n}\n@dec\n\ndef f(a):\n    return a\nif q:\n    pass\nelse:\n    pass\n'


def test_a_long_cell_parses_in_pieces_as_one() -> None:
    source = (_TRAPS * (2 * R.PARSE_LINES // _TRAPS.count("\n") + 1)).rstrip("\n")
    pieces = list(R._pieces(source))
    assert len(pieces) > 2 and {text.split("\n")[0] for _, text in pieces} <= {'q = """', "d = {", "@dec", "if q:"}
    tree = R._tree(source)
    assert tree is not None and ast.dump(tree, include_attributes=True) == ast.dump(ast.parse(source), include_attributes=True)


def test_a_long_cell_with_a_syntax_error_falls_back_to_the_tokens() -> None:
    source = "x = 1\n" * (2 * R.PARSE_LINES) + "def f(:\n"
    assert R._tree(source) is None
