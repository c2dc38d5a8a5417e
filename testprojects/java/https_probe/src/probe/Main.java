package probe;

import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.TreeSet;

/**
 * An HTTPS client and resolver probe for Java images: java.net.http over TLS against a real
 * server (the runtime's trust store, elliptic-curve TLS from jdk.crypto.ec, DNS, the clock).
 * Written for this project; booted by tests/guest_integration_test.py.
 *
 * <p>Each argument is {@code resolve=NAME} (prints {@code RESOLVED NAME ADDRESS...}) or
 * {@code get=URL} (prints {@code GOT URL STATUS 'BODY'}). The first failure prints
 * {@code FAILED <arg>: <error>} and exits 1.
 */
public final class Main {
    public static void main(String[] args) {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            String kind = eq < 0 ? arg : arg.substring(0, eq);
            String value = eq < 0 ? "" : arg.substring(eq + 1);
            try {
                if (kind.equals("resolve")) {
                    TreeSet<String> addresses = new TreeSet<>();
                    for (InetAddress a : InetAddress.getAllByName(value)) {
                        addresses.add(a.getHostAddress());
                    }
                    System.out.println("RESOLVED " + value + " " + String.join(" ", addresses));
                } else if (kind.equals("get")) {
                    HttpRequest request = HttpRequest.newBuilder(URI.create(value)).timeout(Duration.ofSeconds(30)).build();
                    HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                    String body = response.body();
                    System.out.println("GOT " + value + " " + response.statusCode() + " '"
                            + body.substring(0, Math.min(200, body.length())) + "'");
                } else {
                    System.out.println("FAILED " + arg + ": expected resolve=NAME or get=URL");
                    System.exit(2);
                }
            } catch (Exception e) {
                System.out.println("FAILED " + arg + ": " + e.getClass().getName() + ": " + e.getMessage());
                System.out.flush();
                System.exit(1);
            }
        }
        System.out.flush();
    }
}
