# One image for every kwake component; the component is the argument:
#   docker build -t kwake . && docker run kwake gateway --help
# The manifests in deploy/ run it as user 10001 with a read-only root filesystem and /tmp as an
# emptyDir: nothing here writes outside /tmp at run time (bytecode is compiled at build time).

# --- build: a virtualenv with kwake and its dependencies, compiled ---------------------------
FROM python:3.11-slim-bookworm AS build
# A pip mirror or CA bundle, when the building machine needs one (--build-arg PIP_INDEX_URL=...,
# PIP_CERT=...): ARGs, so they stay in this stage and no machine's setup is baked in.
ARG PIP_INDEX_URL
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# gcc for mypyc, which compiles the gateway's request path (setup.py); only the built virtualenv
# reaches the run stage. Without it the install would still succeed, as pure Python.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/kwake
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY localkube ./localkube
COPY serving ./serving
COPY activator ./activator
COPY autoscaler ./autoscaler
COPY loadtests ./loadtests
COPY crds ./crds
RUN /opt/kwake/bin/pip install ".[fast]" \
    && /opt/kwake/bin/python -m compileall -q /opt/kwake

# --- run: the slim base, the virtualenv, a non-root user -------------------------------------
FROM python:3.11-slim-bookworm AS run
RUN groupadd --system --gid 10001 kwake \
    && useradd --system --uid 10001 --gid kwake --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin kwake
COPY --from=build /opt/kwake /opt/kwake
# `kwake up` inside the image finds the CRDs beside the installed packages.
COPY --from=build /src/crds /opt/kwake/lib/python3.11/site-packages/crds
ENV PATH=/opt/kwake/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    HOST=0.0.0.0
# Sample apps read HOST; the components take --host (the manifests pass 0.0.0.0).
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 9090 9443
ENTRYPOINT ["kwake"]
CMD ["--help"]
