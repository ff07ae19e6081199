# The image of every part of Upward; the build argument SERVICE says which.
# Build from the repository root, which is the context:
#   docker build --build-arg SERVICE=matching -t upward/matching .
# SERVICE is one of enrolment, matching, scheduling, analytics, gateway. Each
# service's migrations run from its own image as a Kubernetes initContainer:
#   python -m upward_common migrate <service>
ARG SERVICE

FROM python:3.11-slim-bookworm AS build
ARG SERVICE
# A virtualenv is the one directory the runtime stage copies, so no build-time
# files reach the final image.
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY services services
COPY gateway gateway
# Only the kernel and the part, with the dependencies their pyproject.toml
# files declare: no development or test tool. Constraints pin every transitive
# dependency, so every image matches CI.
RUN case "$SERVICE" in \
        enrolment | matching | scheduling | analytics) source="services/$SERVICE" ;; \
        gateway) source=gateway ;; \
        *) echo "SERVICE='$SERVICE': build with --build-arg SERVICE=<enrolment|matching|scheduling|analytics|gateway>" >&2; \
           exit 1 ;; \
    esac \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c requirements/constraints.txt ./services/common "./$source"

FROM python:3.11-slim-bookworm AS runtime
# A named user with a fixed numeric UID: Kubernetes' runAsNonRoot can only
# verify a numeric USER.
RUN groupadd --system --gid 10001 upward \
    && useradd --no-log-init --system --uid 10001 --gid upward --no-create-home upward
COPY --from=build /opt/venv /opt/venv
# The root filesystem is read-only in Kubernetes: bytecode was compiled at
# install time, and HOME points at the writable /tmp volume.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001

# What differs between the parts: the port and the app uvicorn serves. Each
# stage below is one part; the last line picks the one SERVICE names, and
# BuildKit skips the others.
FROM runtime AS part-enrolment
EXPOSE 8001
CMD ["uvicorn", "enrolment.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8001"]

FROM runtime AS part-matching
# The solver's compiled scan (Numba) caches its machine code on the writable
# /tmp volume on first use.
ENV NUMBA_CACHE_DIR=/tmp/numba-cache
EXPOSE 8002
CMD ["uvicorn", "matching.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8002"]

FROM runtime AS part-scheduling
EXPOSE 8003
CMD ["uvicorn", "scheduling.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8003"]

FROM runtime AS part-analytics
EXPOSE 8004
CMD ["uvicorn", "analytics.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8004"]

FROM runtime AS part-gateway
EXPOSE 8000
CMD ["uvicorn", "gateway.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

# A stage of this file, not an image to pull: hadolint cannot tell.
# hadolint ignore=DL3006
FROM part-${SERVICE}
