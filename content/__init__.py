"""The bundled content, installed as the package ``bot.bundled_content``.

Not code: this file only makes the folder a package, so that ``importlib.resources`` finds it in
a wheel, a pipx install or an editable checkout alike (see ``[tool.setuptools]`` in pyproject.toml).
"""
