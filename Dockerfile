# Builds the three services into one small image; docker-compose.yml picks the
# binary with `command`.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/order-service ./cmd/order-service \
 && CGO_ENABLED=0 go build -trimpath -o /out/inventory-service ./cmd/inventory-service \
 && CGO_ENABLED=0 go build -trimpath -o /out/notification-service ./cmd/notification-service

FROM alpine:3.20
RUN adduser -D -u 10001 app && mkdir /data && chown app /data
COPY --from=build /out/ /usr/local/bin/
USER app
