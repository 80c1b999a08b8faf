#!/usr/bin/env bash
# Generates the test PKI into $1 with the openssl command line (run by Meson at build time):
#   ca.pem                 the test CA, which clients trust through `ca_file`
#   server.pem/.key        127.0.0.1, ::1 and localhost, signed by the CA
#   wrong-host.pem/.key    signed by the CA, for wrong.example only (a host-name mismatch)
#   expired.pem/.key       127.0.0.1 and localhost, signed by the CA, expired in 2020
#   untrusted.pem/.key     127.0.0.1 and localhost, signed by another CA nobody trusts
#   client.pem/.key        a client certificate signed by the CA, for mutual TLS
# Keys are EC P-256: quick to make. Certificates live 10 years except the expired one.
set -euo pipefail
out=$1
mkdir -p "$out"
cd "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # name subject
    key "$work/$1.key"
    openssl req -x509 -new -key "$work/$1.key" -sha256 -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$work/$1.pem"
}

# A leaf: name ca subject-alt-names extended-key-usage [startdate enddate]
leaf() {
    local name=$1 ca=$2 san=$3 eku=$4
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=tether test $name" -out "$work/$name.csr"
    cat >"$work/$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$eku
subjectAltName=$san
EXT
    if (($# > 4)); then
        # `openssl ca` is the one command in OpenSSL 3.0 that accepts dates in the past.
        mkdir -p "$work/db"
        : >"$work/db/index.txt"
        cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/db/index.txt
new_certs_dir = $work/db
serial = $work/db/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
CNF
        openssl rand -hex 8 >"$work/db/serial"
        openssl ca -batch -notext -config "$work/ca.cnf" -cert "$work/$ca.pem" -keyfile "$work/$ca.key" \
            -in "$work/$name.csr" -extfile "$work/$name.ext" -startdate "$5" -enddate "$6" \
            -out "$name.pem" 2>/dev/null
    else
        openssl x509 -req -in "$work/$name.csr" -CA "$work/$ca.pem" -CAkey "$work/$ca.key" -CAcreateserial \
            -days 3650 -sha256 -extfile "$work/$name.ext" -out "$name.pem" 2>/dev/null
    fi
}

make_ca ca "tether test CA"
make_ca other-ca "an untrusted CA"
cp "$work/ca.pem" ca.pem

local_names="IP:127.0.0.1,IP:::1,DNS:localhost"
leaf server ca "$local_names" serverAuth
leaf wrong-host ca "DNS:wrong.example" serverAuth
leaf expired ca "$local_names" serverAuth 20200101000000Z 20200201000000Z
leaf untrusted other-ca "$local_names" serverAuth
leaf client ca "DNS:tether-test-client" clientAuth
