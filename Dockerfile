# Builds the three services into one small image; docker-compose.yml picks the
# binary with `command`.
#
# Base images are pinned by tag AND digest (multi-platform index digests), so
# a rebuild uses the same bytes. How they were obtained: from public
# Dockerfiles that pin the same tags (found with a code search), since the
# machines this project is built on reach no container registry. They could
# NOT be verified here (see the README's Docker notes): check or refresh them
# with `docker buildx imagetools inspect golang:1.26.8-bookworm` and
# `docker buildx imagetools inspect alpine:3.20` (the "Digest:" line). The
# golang tag matches go.mod's `go 1.26.8` (the image sets GOTOOLCHAIN=local).
FROM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/order-service ./cmd/order-service \
 && CGO_ENABLED=0 go build -trimpath -o /out/inventory-service ./cmd/inventory-service \
 && CGO_ENABLED=0 go build -trimpath -o /out/notification-service ./cmd/notification-service

FROM alpine:3.20@sha256:d9e853e87e55526f6b2917df91a2115c36dd7c696a35be12163d44e6e2a4b6bc
RUN adduser -D -u 10001 app && mkdir /data && chown app /data
COPY --from=build /out/ /usr/local/bin/
USER app
