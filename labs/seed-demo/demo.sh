#!/usr/bin/env bash
# The libnetwork demo, replayed on the seed lab (run by `make demo`).
# Each stage prints one line, then the commands it runs and what they show.
set -euo pipefail
OVLAB=${OVLAB:-.venv/bin/ovlab}
LAB=seed-demo
stage() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

stage "1/7 two VMs on one machine: namespaces lab-vm-1 (192.168.100.23) and lab-vm-2 (.24)"
$OVLAB lab up $LAB
$OVLAB lab status $LAB

stage "2/7 Consul server on lab-vm-1, client on lab-vm-2, overlay agent on both (Ansible)"
$OVLAB provision $LAB
$OVLAB consul members $LAB

stage "3/7 docker run --publish-service svc1.dev.overlay / svc2.dev.overlay"
$OVLAB rm container_node1 --lab $LAB >/dev/null 2>&1 || true
$OVLAB rm container_node2 --lab $LAB >/dev/null 2>&1 || true
$OVLAB run -d --name container_node1 --publish-service svc1.dev.overlay --node $LAB/lab-vm-1
$OVLAB run -d --name container_node2 --publish-service svc2.dev.overlay --node $LAB/lab-vm-2

stage "4/7 network ls, service ls"
$OVLAB network ls --lab $LAB
$OVLAB service ls --lab $LAB

stage "5/7 in container_node2: cat /etc/hosts; ping svc1 (across VMs, over VXLAN)"
$OVLAB exec --lab $LAB container_node2 -- cat /etc/hosts
$OVLAB exec --lab $LAB container_node2 -- ping -c 3 svc1

stage "6/7 nsenter --net=1-<netid> on lab-vm-1: ip link, ip neigh, bridge fdb"
NS=$($OVLAB exec $LAB/lab-vm-1 -- ls /run/docker/netns | head -1)
$OVLAB netns links "$LAB/lab-vm-1:$NS"
$OVLAB netns neigh "$LAB/lab-vm-1:$NS"
$OVLAB netns fdb "$LAB/lab-vm-1:$NS"
$OVLAB netns vxlan "$LAB/lab-vm-1:$NS"

stage "7/7 ip a in container_node2"
$OVLAB exec --lab $LAB container_node2 -- ip a

printf '\nThe lab stays up. Explore: %s exec %s/lab-vm-1   |  take it down: %s lab down %s\n' \
  "$OVLAB" "$LAB" "$OVLAB" "$LAB"
