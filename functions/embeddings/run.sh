#!/bin/sh
# Entry point of the inference function (Handler: run.sh, AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
# The Lambda Web Adapter runs this script, waits until the port answers, then forwards every request to
# it over HTTP. The same script serves locally (tests, `sam local`): PORT picks the port.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

# The shared layer is unpacked at /opt/python. Lambda puts it on sys.path only for handlers its own
# runtime imports; this process is started by the adapter, so it is added here.
if [ -d /opt/python ]; then
    PYTHONPATH="/opt/python${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONPATH
fi

log_level=$(printf '%s' "${LOG_LEVEL:-info}" | tr '[:upper:]' '[:lower:]')

exec python3 -m uvicorn --app-dir "$here" --host 127.0.0.1 --port "${AWS_LWA_PORT:-${PORT:-8080}}" \
    --log-level "$log_level" --no-access-log --no-server-header app:app
