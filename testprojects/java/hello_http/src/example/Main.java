package example;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.sql.DriverManager;
import java.sql.Timestamp;
import java.util.Collections;
import java.util.logging.Logger;

/**
 * A JDK-only HTTP server (com.sun.net.httpserver: module jdk.httpserver) that answers `/` with
 * JSON written by jackson-core (a multi-release jar), stamps it with java.sql.Timestamp and
 * lists the JDBC drivers (module java.sql) and logs through java.util.logging (java.logging).
 * Prints one READY line with CLOCK_MONOTONIC (System.nanoTime) for the boot-time benchmark.
 */
public final class Main {
    private static final Logger LOG = Logger.getLogger("hello_http");
    private static final JsonFactory JSON = new JsonFactory();

    private Main() {}

    static byte[] body(String path) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator json = JSON.createGenerator(out)) {
            json.writeStartObject();
            json.writeStringField("message", "hello from a Java unikernel");
            json.writeStringField("path", path);
            json.writeStringField("java", System.getProperty("java.version"));
            json.writeStringField("timestamp", new Timestamp(0L).toInstant().toString());
            json.writeNumberField("jdbc_drivers", Collections.list(DriverManager.getDrivers()).size());
            json.writeEndObject();
        }
        out.write('\n');
        return out.toByteArray();
    }

    static void handle(HttpExchange exchange) throws IOException {
        LOG.info("GET " + exchange.getRequestURI());
        byte[] response = body(exchange.getRequestURI().getPath());
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, response.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(response);
        }
    }

    public static void main(String[] args) throws IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 16);
        server.createContext("/", Main::handle);
        server.start();
        System.out.printf(
            "hello_http: READY port=%d java=%s monotonic_ms=%.3f%n",
            port, System.getProperty("java.version"), System.nanoTime() / 1e6);
    }
}
