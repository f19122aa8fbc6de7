"""Anonymisation of network addresses before anything stores them."""
import ipaddress


def anonymise_ip(address):
    """IPv4 with the last octet zeroed, IPv6 cut to its /48; '' for anything unparsable."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
