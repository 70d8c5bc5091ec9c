#!/bin/sh
# Opens the health worker's app full screen once it answers; started by pneumoscan-kiosk.desktop at login.
# The flags keep Chromium's own background services (updates, sign-in, autofill) quiet on an offline device.
URL=http://127.0.0.1:8080/
until curl -fs -o /dev/null "$URL"; do sleep 1; done
exec chromium --kiosk --noerrdialogs --disable-session-crashed-bubble --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --disable-features=AutofillServerCommunication,OptimizationHints,Translate,MediaRouter \
    --disable-domain-reliability --no-pings --check-for-update-interval=31536000 "$URL"
