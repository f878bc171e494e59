#!/usr/bin/env bash
# The JAX peers' venvs for bench/peer_jaxpike.py and bench/peer_brainpy.py (docs/performance.md,
# "JAX peers: jaxpike and BrainPy"). Each venv holds snnjax (editable, from this checkout) beside
# one peer at a pinned version, with the JAX of snnjax's own .venv, so snnjax and the peer are timed
# in one process under one JAX:
#
#   bash bench/peers/setup_venvs.sh            # both
#   bash bench/peers/setup_venvs.sh jaxpike    # one
#
# venv-jaxpike: python3.11, jaxpike==0.1.4 (PyPI). jaxpike's benchmark network lives in its
#   repository, not its wheel (benchmarks/spyx_shd.py at tag v0.1.4); bench/peer_jaxpike.py builds
#   it from jaxpike's own layers and runners, and with JAXPIKE_REPO=<a checkout of v0.1.4> also
#   imports that file itself (tests/test_bench_peers.py then checks the two are the same net).
# venv-brainpy: BrainPy 2.9 needs Python >= 3.12 (PYENV_VERSION=3.12.1 on the project's machines;
#   PYTHON312=... to name another interpreter).
# Where: $SNNJAX_BENCH_VENVS (default ~/.cache/snnjax-bench). Needs PyPI (or a mirror) reachable.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="${SNNJAX_BENCH_VENVS:-$HOME/.cache/snnjax-bench}"
JAXPIKE_VERSION=0.1.4
BRAINPY_VERSION="2.9.*"
# the JAX of snnjax's own venv where there is one, else the version this script was written against
JAX_VERSION="$("$ROOT/.venv/bin/python" -c 'import jax; print(jax.__version__)' 2>/dev/null || echo 0.10.2)"
mkdir -p "$DEST"

make_venv() {  # make_venv NAME PYTHON PEER_REQUIREMENT...
  local name="$1" python="$2"; shift 2
  local venv="$DEST/venv-$name"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # one resolve, so a peer that wants another JAX fails here rather than replacing snnjax's
  "$venv/bin/python" -m pip install --quiet "jax==$JAX_VERSION" "jaxlib==$JAX_VERSION" "$@" \
    -e "$ROOT" "pytest>=7"
  "$venv/bin/python" -c "import jax, snnjax; print('$name venv:', '$venv', 'jax', jax.__version__)"
  "$venv/bin/python" -m pip freeze | grep -i -E "^(jax|jaxlib|flax|optax|equinox|jaxpike|brainpy|brainstate|brainunit|brainevent|braintools)==" || true
}

want="${*:-jaxpike brainpy}"
for peer in $want; do
  case "$peer" in
    jaxpike) make_venv jaxpike "${PYTHON311:-python3.11}" "jaxpike==$JAXPIKE_VERSION" ;;
    brainpy)
      if [ -n "${PYTHON312:-}" ]; then py312="$PYTHON312"
      elif command -v pyenv >/dev/null && pyenv versions --bare | grep -qx 3.12.1; then py312="$(PYENV_VERSION=3.12.1 pyenv which python)"
      else py312=python3.12; fi
      make_venv brainpy "$py312" "brainpy==$BRAINPY_VERSION" ;;
    *) echo "unknown peer $peer (jaxpike, brainpy)" >&2; exit 2 ;;
  esac
done
