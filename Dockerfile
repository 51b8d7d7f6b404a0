# Multi-stage build of quantd on Debian bookworm.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/install_deps.sh
RUN scripts/install_deps.sh
COPY . .
RUN BUILD_DIR=/build scripts/build.sh

FROM debian:bookworm-slim
# Runtime libraries only: what `ldd` shows quantd and quantctl need.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libabsl20220623 libgrpc++1.51 libprotobuf32 libdnnl2 libonnx1 libsqlite3-0 zlib1g \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 ocl-icd-libopencl1 libgomp1 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/quantd quantd
COPY --from=build /build/server/quantd /build/client/quantctl /usr/local/bin/
USER quantd
VOLUME /var/lib/quantd
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/quantd", "--listen=0.0.0.0:50051", \
            "--metrics_listen=0.0.0.0:9464", "--data_dir=/var/lib/quantd"]
