"""Operations endpoints: liveness and readiness for load balancers, Prometheus metrics.
An interface layer like api/ and web/: it reads the other apps and changes nothing."""
