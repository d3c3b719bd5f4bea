# Thin wrapper over the Makefile.
#   docker build -t gorustls .            # builds librustls, then the Go module, then runs make test
# Stage 1 builds librustls (rustls-ffi, pinned in build/) exactly as `make librustls` does.
FROM rust:1.95-bookworm AS rust
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config clang \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY build/ build/
RUN bash build/librustls.sh aws-lc-rs /src/build/out/aws-lc-rs

# Stage 2: Go toolchain, the prebuilt librustls, and the tests. The packages after cmake are
# build/install-deps.sh's (make test-deps): interop peers, load generators, clang for make asan.
FROM golang:1.26-bookworm AS go
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config cmake \
    openssl gnutls-bin curl nghttp2-client wrk clang \
    && rm -rf /var/lib/apt/lists/*
COPY --from=rust /usr/local/cargo /usr/local/cargo
COPY --from=rust /usr/local/rustup /usr/local/rustup
ENV PATH=/usr/local/cargo/bin:$PATH RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
WORKDIR /src
COPY . .
COPY --from=rust /src/build/out build/out
COPY --from=rust /src/build/target build/target
# librustls.a is newer than its inputs, so make reuses it. Install it (and the gorustls command)
# the way a user's machine would, then build and test the Go side.
RUN make install PREFIX=/usr/local && make test
CMD ["gorustls", "demo"]
