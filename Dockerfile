# syntax=docker/dockerfile:1
# Shortlinks: one static binary on a distroless base, running as a non-root user.
#
#   docker build -t shortlinks --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 8080:8080 -v shortlinks-data:/data shortlinks
#
# With no configuration the server keeps its SQLite database in /data (the
# working directory); production points it at PostgreSQL and Redis instead
# (SHORTLINKS_DATABASE_URL, SHORTLINKS_REDIS_URL; see docs/deploy.md).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# The same build as `make build`: no cgo, so the binary needs no libc.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X github.com/shortlinks/shortlinks/internal/cli.version=${VERSION}" -o /out/shortlinks ./cmd/shortlinks
# An empty /data owned by the runtime user, for the SQLite default.
RUN mkdir -p /out/data

# distroless/static: CA certificates, time zones, /etc/passwd, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shortlinks /shortlinks
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
VOLUME ["/data"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/shortlinks"]
CMD ["serve"]
