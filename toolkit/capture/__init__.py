"""Wire capture: live capture inside a namespace, pcap/pcapng I/O, VXLAN decoding, verify."""
