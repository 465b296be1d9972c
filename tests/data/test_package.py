import subprocess
import sys
from pathlib import Path

import genzoo.data
from genzoo.data import DataError


def test_public_api() -> None:
    for name in genzoo.data.__all__:
        assert hasattr(genzoo.data, name), name
    assert issubclass(DataError, ValueError)


def test_import_is_lazy() -> None:
    """genzoo.data itself imports neither torchvision nor PIL (the core is stubbed out)."""
    pkg_dir = str(Path(genzoo.data.__file__).resolve().parents[1])
    code = (
        "import sys, types; "
        "pkg = types.ModuleType('genzoo'); pkg.__path__ = [sys.argv[1]]; sys.modules['genzoo'] = pkg; "
        "import genzoo.data; "
        "heavy = [m for m in ('torchvision', 'PIL') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code, pkg_dir], check=True)
