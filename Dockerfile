# Multi-stage build of quantd on Debian bookworm.
#   docker build -t quantd .          (or: docker compose -f deploy/docker-compose.yml build)
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/install_deps.sh
RUN scripts/install_deps.sh --build-only
# Only what the server and client are built from: the work tree's build-*/
# directories, node_modules and .quantd-data stay out of the build.
COPY CMakeLists.txt ./
COPY common common
COPY proto proto
COPY engine engine
COPY server server
COPY client client
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
          -DQUANTD_BUILD_TESTS=OFF -DQUANTD_BUILD_BENCH=OFF \
    && cmake --build /build -j"$(nproc)" --target quantd quantctl

FROM debian:bookworm-slim
# Runtime libraries only: what `ldd` shows quantd and quantctl need (quantctl
# also decodes PNG/JPEG with OpenCV). A fixed uid/gid lets Kubernetes check
# runAsNonRoot and set fsGroup on the data volume (deploy/k8s/).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libabsl20220623 libgrpc++1.51 libprotobuf32 libdnnl2 libonnx1 libsqlite3-0 zlib1g \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 ocl-icd-libopencl1 libgomp1 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 quantd \
    && useradd --system --uid 10001 --gid quantd --create-home --home-dir /var/lib/quantd quantd
COPY --from=build /build/server/quantd /build/client/quantctl /usr/local/bin/
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
VOLUME /var/lib/quantd
EXPOSE 50051 9464
# quantctl is in the image; `health` asks the KServe ServerReady RPC, which
# answers once the repository is open and needs no token.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/quantctl", "health", "--server=127.0.0.1:50051", "--timeout=3"]
# Every call needs a bearer token: mount a token file (quantctl new-token
# prints its lines) at /etc/quantd/tokens; README "Authentication".
ENTRYPOINT ["/usr/local/bin/quantd", "--listen=0.0.0.0:50051", \
            "--metrics_listen=0.0.0.0:9464", "--data_dir=/var/lib/quantd", \
            "--token_file=/etc/quantd/tokens"]
